"""Alerts: rules judged on every sample, their pending/firing/resolved history, and the
notifications sent when they fire and resolve."""
