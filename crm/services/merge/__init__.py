"""Merging duplicate contacts (or accounts) into one master without losing anything.

A merge is one transaction, in small steps:
1. check: the permission, 2 to MAX_MERGED records the actor sees, live, unchanged since
   the merge page showed them (their versions: optimistic locking);
2. plan (`contact_plan`, `account_plan`): for every field, the distinct values side by side,
   the master's preselected unless empty; an empty value never wins over a filled one;
3. snapshot the rows the merge rewrites (the records, their accounts);
4. mark the merged records as tombstones pointing at the master (contacts also leave every
   list: `deleted_at`), apply the chosen values to the master with its usual rules;
5. move every row that references a merged record to the master (crm.services.merge.engine,
   from the database's foreign keys); a B2C contact's hidden account follows its contact;
6. write a MergeRecord (what undo replays) and the history.
`undo_merge` (crm_admin) replays the record backwards while nothing has changed since.

The modules: `plan` (steps 1 and 2, what both kinds share), `contacts` (`merge_contacts`),
`accounts` (`merge_accounts`), `record` (step 6), `engine` (steps 3 and 5), `old_links`
(where a merged record's old link leads), `undo` (`undo_merge`).
"""
