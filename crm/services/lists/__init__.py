"""Tags, segments and marketing lists, lookup lists, marketing consent."""
