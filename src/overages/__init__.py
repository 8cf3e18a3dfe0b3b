"""overages: Genesys Cloud usage beyond the monthly free allocations, as billable overage marts."""

__version__ = "0.1.0"
