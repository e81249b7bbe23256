"""The one Kafka adapter: every producer, admin client and credential goes through here.

- ``publisher``: ``EventPublisher`` (validated, ``acks=all``, idempotent; the year close),
  ``Position``, the headers, and ``event_publisher(settings)``;
- ``admin``: wait for the broker, create and align the topics, SCRAM users, ACLs
  (``python -m services.platform.kafka.admin``);
- ``acls``: the principals and what each may do;
- ``security``: how every client authenticates (and encrypts), from the settings;
- ``tls``: the ``ssl_context`` of SSL and SASL_SSL (``AR_KAFKA_SSL_*``), and
  ``check_broker_tls``, which says why a handshake is refused;
- ``reachability``: a quick check that the broker answers and a topic exists;
- ``probe``: readiness's view of Kafka (end offsets, a group's committed offsets).
"""
