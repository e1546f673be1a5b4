"""The embedded local stack: moto's server, the fake channel server and the scenario."""
