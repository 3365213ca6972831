"""Jobs put on the Redis queue before the services were grouped by domain name
`crm.services.jobs.run_in_worker`: this alias lets a worker of the new version still run them."""

from crm.services.platform.jobs import run_in_worker

__all__ = ["run_in_worker"]
