"""The periodic review (rà soát): evidence from the directory, the HR roster and the mail logs, turned
into findings and, on request, a proposal branch that is reviewed like any other change."""
