"""Publication: the recorded step that makes a closed year public on its publication date,
and the ``publication`` schema it fills (its tables, the ``web_*`` views and their grants).
The web site reads those views in services/web/published_reads.py."""
