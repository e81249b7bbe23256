"""The public web site, "Your council's performance": published figures and letters."""
