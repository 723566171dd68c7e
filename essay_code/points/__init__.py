"""One module per claim. The module name, with '_' as '-', is the point's slug.

The registry (essay_code.tooling.registry) discovers every module here; there is no
list of points to keep by hand.
"""
