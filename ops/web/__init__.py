"""Layer 3: what the dashboard's server answers besides pages - the JSON endpoints,
`/metrics`, backup downloads - and the login that guards the pages."""
