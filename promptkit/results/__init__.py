"""What a run leaves behind: the journal store, the run history, the pandas summary,
the statistics and paired comparisons computed from it.
"""
