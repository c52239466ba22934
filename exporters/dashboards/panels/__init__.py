"""Panel functions, one module per Grafana panel family (stat, bar gauge, time series,
table, state timeline); ``base`` holds what every family shares."""
