"""slamon: ICT service-catalogue and SLA monitoring daemon."""

__version__ = "0.1.0"
