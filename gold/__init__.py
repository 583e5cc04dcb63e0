"""Gold layer: KPI tables for the store's questions and the sales dashboard."""
