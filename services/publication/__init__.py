"""Publication: the recorded step that makes a closed year public on its publication date,
and every read the public web site makes (the only SQL against schema ``publication``)."""
