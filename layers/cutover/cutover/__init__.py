"""cutover: move a web application's traffic from Heroku to AWS by Route 53 weighted records.

The domain (plan, records, alarms) is pure; AWS access lives in ``cutover.adapters``; the
state machine's steps are in ``cutover.steps``.
"""

__version__ = "0.1.0"
