"""The other two workloads as plain functions for RQ: the book's echo and merge sort (as in celery/mergesort.py)."""


def echo(message):
    return message


def sort(xs):
    lenxs = len(xs)
    if lenxs <= 1:
        return xs
    half_lenxs = lenxs // 2
    return merge(sort(xs[:half_lenxs]), sort(xs[half_lenxs:]))


def merge(left, right):
    nleft = len(left)
    nright = len(right)
    merged = []
    i = 0
    j = 0
    while i < nleft and j < nright:
        if left[i] < right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    return merged + left[i:] + right[j:]
