"""Where the critic's training data comes from, each source one module, all yielding Episodes:

runs       run folders of swe-search (trajectory + grade) and nebius exports -> Episode
prepared   Episodes serialized into training windows, each rank a share, cached
synthetic  seeded made-up trajectories (tests, benchmarks)
"""
