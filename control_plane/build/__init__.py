"""Build from source, the pure part (issue 24): a source folder becomes a BuildPlan.

- `source`: a read-only view of the folder with its ignore rules; the tarball sent to a build.
- `procfile`: process types (`web`, `worker`, `release`, …).
- `providers/`: one small module per kind of app (a detection rule, the commands, a template).
- `plan`: `make_plan(tree, settings)`: the Dockerfile to build and the processes to run.

Nothing here runs docker, a subprocess or touches the network.
"""
