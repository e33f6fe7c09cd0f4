"""The outbox: an event row written in the transaction of the change it reports (rule 13)."""
