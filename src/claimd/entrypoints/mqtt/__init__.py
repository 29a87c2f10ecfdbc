"""claimd's own MQTT device endpoint (3.1.1 and 5): devices authenticate with their access token, so
claimd knows which device sent each message. It is not a general broker."""
