"""Running studies: the scheduler loop, the executors (in-process and Ray) and what runs on a worker.

Ray is imported only by ``ray_executor``.
"""
