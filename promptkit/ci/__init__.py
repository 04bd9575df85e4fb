"""The pull-request flow: baselines from git refs or files, the gate that turns results
into an exit code, and `check` for the immutability of evaluated prompt versions.
"""
