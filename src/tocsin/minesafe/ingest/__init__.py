"""Ingestion: every path by which position reports reach the one engine — LoRa frames from masts (the
ChirpStack Gateway Bridge over MQTT, the Semtech UDP packet forwarder) and phones (the OsmAnd protocol of
Traccar Client). Decoders turn what the wire carries into the shared shapes of ``uplinks``; bad input
raises ``IngestError`` naming the field and the reason, and is counted and dropped by the servers."""
