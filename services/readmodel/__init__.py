"""The read models: the one owner of every SQL statement on their tables.

The projector writes them (``store``, ``snapshots``, ``versions``); the letter service, the
CLI and the bench read them through the functions here (``letter_reads``,
``council_figures``, ``status``, ``dead_letters``, ``audit``). Nobody else writes SQL against
the version schemas (``rm_vN``), the ``readmodel`` views or ``projection_versions``.
"""
