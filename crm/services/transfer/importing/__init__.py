"""Bringing contacts in from files (CSV, XLSX, vCard): reading them, recognising known
column sets, mapping columns to contact fields, and running imports as jobs.

Imports as jobs: start one from an upload, run it in batches, undo it.

- `create_job` (`jobs`) keeps the uploaded file under `instance/imports/` (a generated
  name), reads its header (a file that cannot be read is refused before any job exists) and
  proposes the mapping: a saved one for files with these columns, a known column set
  (Google, Outlook, ours), or a guess from the header names.
- `run_job` (`run`) goes through the rows in batches of BATCH; each batch is one
  transaction that also records, per row, what it did (`ImportedRow`) and moves the job's
  counters, so a job interrupted by a restart has applied whole batches only: it is marked
  failed with its counts (`fail_interrupted`), and resuming skips the rows already recorded.
- Each row: its cells are read (`rows.RowReader`) and checked by the contact rules
  (crm.services.contacts.batch, the form's checks on plain values); the batch's rows are
  looked up together by the duplicate keys (the same email, phone, or name key in the same
  company or among consumers; a CRM id names its contact), rows earlier in the same file
  included; then, as the user chose: skip the row, fill the existing contact's empty
  fields, overwrite them (per row, through the ORM rules, in a savepoint), or create a new
  contact anyway. The new contacts of a batch are inserted together.
- A dry run does all of that and keeps nothing: every batch is rolled back, and the file's
  rows are remembered by their duplicate keys only.
- `undo_import` (`undo`) deletes the contacts the import created (in bulk) and puts back
  what it changed in the contacts it updated, leaving (and counting) those changed since by
  someone else.
- `preview` (`preview`) shows the first rows as they would be stored.
"""
