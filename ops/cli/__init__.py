"""Layer 3: `python -m ops COMMAND`, the commands admins run by hand or from scripts."""
