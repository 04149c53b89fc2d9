"""The declared state: unit files (YAML with positions), their schema, the province's rules, naming, one YAML writer."""
