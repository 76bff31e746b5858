"""The reproduction pipeline: Paper -> claims -> Plan -> Notebook -> (run) -> Report.

Each stage is a module of plain functions taking explicit inputs (document bytes, resource specs,
``Settings``, a ``Storage``) and returning pydantic models, so the operator's handlers and the local
``p2n reproduce`` command call the same code. Nothing here prints or keeps global state.

    ingest       document bytes/URL -> Document (pages, sha256, stored copy)
    extract      Document -> list[resources.Claim] (offline rules or the openai provider)
    planning     Claim -> ReproductionPlan (plan_hash, env_hash) or a typed refusal
    materialize  ReproductionPlan -> nbformat v4 notebook bytes (byte-identical per plan)
    report       observed metrics -> gap, verdict, JSON and self-contained HTML
    storybook    a kid-mode retelling of the claim and the result
    local        the whole chain on one machine with the local sandbox
"""
