"""`make bench`: seed a throwaway database with many realistic contacts and time the pages
and bulk paths of the real app on it (SQLite, and PostgreSQL where it is installed).

Run it as `python -m bench` from the project root; `python -m bench --help` lists the options
(`BENCH_CONTACTS`, `BENCH_POSTGRES`, ... set their defaults).
"""
