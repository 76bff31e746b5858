"""The program inside the sandbox: executes one notebook with nbclient and a real ipykernel.

It is the same program in a Kubernetes pod and in the local sandbox (``p2n sandbox``), so it may
import only ``p2n.events`` from the core, the standard library, nbclient/nbformat/jupyter_client and
httpx: the runner image stays small and holds no storage credentials.

Modules: ``options`` (command line), ``sources`` (fetch the notebook), ``policy`` (refuse GPU
requests before execution), ``seeding`` (deterministic seeds in the kernel), ``emitter`` (events on
stdout and capped ``events.jsonl``/``logs.txt``), ``execution`` (the kernel and the cells),
``memory`` (telling an OOM kill from another kernel death), ``artifacts`` (directory or presigned
PUT URLs), ``runner`` (one run from start to exit code).
"""
