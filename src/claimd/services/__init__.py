"""Use cases. Every door (REST, device HTTP, MQTT, CoAP, CLI, web, bulk) calls these and nothing else."""
