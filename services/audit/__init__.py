"""The audit trail: every action of the office, by whom, as events on a topic of their own."""
