"""The static GPU check that refuses a notebook before execution (E_GPU_REQUESTED)."""

from __future__ import annotations

import nbformat
import pytest

from p2n_runner import policy


def nb_with(*cells: str, metadata: dict | None = None) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata.update(metadata or {})
    return nb


@pytest.mark.parametrize(
    "code",
    [
        "model = model.cuda()",
        "x = torch.zeros(3).cuda(0)",
        "device = torch.device('cuda')",
        "t = t.to('cuda:0')",
        'trainer = Trainer(device="cuda")',
        "!nvidia-smi",
        "import cupy as cp",
        "with tf.device('/GPU:0'):\n    pass",
        "os.environ['CUDA_VISIBLE_DEVICES'] = '0'",
        "%env CUDA_VISIBLE_DEVICES=1",
    ],
)
def test_code_asking_for_a_gpu_is_refused(code):
    with pytest.raises(policy.GpuRequested, match="CPU-only"):
        policy.check_notebook(nb_with("import torch", code))


@pytest.mark.parametrize(
    "code",
    [
        "device = 'cuda' if torch.cuda.is_available() else 'cpu'",
        "# model.cuda() would need a GPU",
        "print('cuda is not used here')",
        "x = np.zeros(3)",
        "os.environ['CUDA_VISIBLE_DEVICES'] = ''",
    ],
)
def test_cpu_code_is_allowed(code):
    policy.check_notebook(nb_with(code))


@pytest.mark.parametrize(
    ("metadata", "refused"),
    [
        ({"p2n": {"resources": {"limits": {"nvidia.com/gpu": 1}}}}, True),
        ({"accelerator": "gpu"}, True),
        ({"p2n": {"gpus": 0}}, False),
        ({"accelerator": "cpu"}, False),
        ({"kernelspec": {"name": "python3"}}, False),
    ],
)
def test_metadata_requesting_a_gpu(metadata, refused):
    nb = nb_with("x = 1", metadata=metadata)
    if refused:
        with pytest.raises(policy.GpuRequested, match="metadata"):
            policy.check_notebook(nb)
    else:
        policy.check_notebook(nb)


def test_markdown_is_not_code():
    nb = nb_with("x = 1")
    nb.cells.append(nbformat.v4.new_markdown_cell("We trained with `model.cuda()` on a V100."))
    policy.check_notebook(nb)
