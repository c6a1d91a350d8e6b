"""Sample texts from a trained character generator, written into its run directory."""

from cnnrnn import runs
from cnnrnn.models.char_generator import CharSampler

SAMPLES_FILE = "samples.txt"
SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)


def write_samples_report(model, splits, split_name, config, run_dir, *, length=300):
    """Writes generated samples at several temperatures to `samples.txt`.

    Args:
        model: a trained `build_char_generator` model.
        splits: unused (the report interface's data).
        split_name: unused (the report interface's evaluation split).
        config: dict. The run configuration.
        run_dir: `pathlib.Path`. The run directory.
        length: int. Characters per sample. Defaults to 300.

    Returns:
        `{"samples_file": "samples.txt"}`, for `metrics.json`.
    """
    sampler = CharSampler(model)
    sections = []
    for temperature in SAMPLE_TEMPERATURES:
        (text,) = sampler.generate(
            length=length, temperature=temperature, seed=config["training"]["seed"]
        )
        sections.append(f"--- temperature {temperature} ---\n{text}\n")
    with runs.atomic_path(run_dir / SAMPLES_FILE) as tmp:
        tmp.write_text("\n".join(sections), encoding="utf-8")
    return {"samples_file": SAMPLES_FILE}
