"""``annual-review demo``: one financial year, end to end, on the real servers.

One module per step, each a function a test can call:

- ``stage``: the namespace (a database and topic prefix of its own), the SMTP server and the
  services, started and stopped;
- ``year``: the councils (the register), the simulated casework, the close;
- ``letters``: waiting for the letters to be sent (with a progress bar), writing them out;
- ``site``: publishing the year and starting the web site;
- ``summary``: what the run did, as printed at the end;
- ``command``: the command itself, the steps in order.
"""

from services.cli.demo.command import demo

__all__ = ["demo"]
