"""RQ's cron scheduler runs the scheduled work every minute instead of cron or systemd
(CRM_JOB_QUEUE=rq): `rq cron deploy/rq_cron.py --url $CRM_REDIS_URL`, from the app's folder
with its environment (README, "Scheduled work"). An `rq worker crm` runs each run."""

from rq import cron

from crm.worker import run_due

# Every 60 seconds from the scheduler's start (RQ 2.4 and later): each run does what is due
# at its moment and catches up on anything a late run missed; nothing is done twice.
cron.register(run_due, queue_name="crm", interval=60, job_timeout=600)
