"""The office workspace (``annual-review serve office``): the staff's web application, apart
from the public site, signed in through the office's OpenID provider (docs/office.md)."""
