"""careplug-salesforce: the Salesforce adapter for careplug (on simple-salesforce)."""
