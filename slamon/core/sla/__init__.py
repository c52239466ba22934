"""SLA maths, pure: periods, service hours, maintenance, eligibility, measures."""
