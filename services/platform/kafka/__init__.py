"""The one Kafka adapter: every producer, admin client and credential goes through here.

- ``publisher``: ``EventPublisher`` (validated, ``acks=all``, idempotent; the year close),
  ``Position``, the headers, and ``event_publisher(settings)``;
- ``admin``: wait for the broker, create and align the topics, SCRAM users, ACLs
  (``python -m services.platform.kafka.admin``);
- ``acls``: the principals and what each may do;
- ``security``: how every client authenticates, from the settings;
- ``reachability``: a quick check that the broker answers and a topic exists.
"""
