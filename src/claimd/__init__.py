"""claimd: hand IoT devices from the company that makes them to the people who buy them."""

__version__ = "0.1.0"
