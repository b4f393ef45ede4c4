"""What demo jobs "say" as they learn: outputs on fixed prompts that get closer to the
reference as training goes on, and the checkpoints they save.

Each prompt has a reference answer and a few words a half-trained model says instead.
Every reference word is learned at its own point of training (a threshold drawn once
per job and prompt), so an output only improves from one evaluation to the next, the
way a word diff between the first and the latest step reads; before a word is learned
the model says its stand-in or nothing, and early outputs ramble. The score is the
word overlap (F1) with the reference. Deterministic for a given seed, job and step.
"""

import random
import re
import zlib

from jobs import services

# (prompt, reference, stand-ins: words an undertrained model puts in their place)
INSTRUCTION = [
    (
        "Summarise in one sentence: The city council voted on Tuesday to extend the night "
        "bus service to the airport after a year-long pilot carried 40% more passengers "
        "than expected.",
        "The council extended the night bus to the airport because the pilot carried far "
        "more passengers than expected.",
        ["city", "voted", "service", "train", "many", "people", "the", "new"],
    ),
    (
        "Explain what a learning rate warm-up is, in two sentences.",
        "A warm-up starts training with a small learning rate and raises it over the first "
        "steps. It keeps the early updates stable before the model's statistics settle.",
        ["rate", "learning", "is", "a", "the", "model", "fast", "slow", "very"],
    ),
    (
        "Write a polite reply declining a meeting on Friday.",
        "Thank you for the invitation. Unfortunately I am not available on Friday; could "
        "we find another time next week?",
        ["meeting", "Friday", "no", "sorry", "I", "will", "the", "maybe"],
    ),
    (
        "List three ways to reduce GPU memory use when fine-tuning.",
        "Use a smaller batch with gradient accumulation, enable gradient checkpointing, "
        "and load the model in 8-bit or 4-bit with LoRA adapters.",
        ["GPU", "memory", "use", "more", "less", "model", "the", "fine-tuning"],
    ),
    (
        "Translate to French: The weather is nice today, let's walk to the harbour.",
        "Il fait beau aujourd'hui, allons au port à pied.",
        ["le", "temps", "est", "the", "weather", "nice", "marcher"],
    ),
]
MATH = [
    (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
        "clips in May. How many clips did Natalia sell altogether in April and May?",
        "In May she sold 48 / 2 = 24 clips. Altogether she sold 48 + 24 = 72 clips. "
        "The answer is 72.",
        ["48", "clips", "96", "sold", "April", "the", "answer", "is"],
    ),
    (
        "A train travels 60 km in 45 minutes. What is its average speed in km/h?",
        "45 minutes is 0.75 hours, so the speed is 60 / 0.75 = 80 km/h. The answer is 80.",
        ["60", "45", "km", "speed", "train", "1.33", "the", "answer"],
    ),
    (
        "Tom has 3 boxes with 12 pencils each. He gives away 10 pencils. How many are left?",
        "He has 3 * 12 = 36 pencils. After giving away 10 he has 36 - 10 = 26. The answer is 26.",
        ["12", "pencils", "boxes", "3", "22", "Tom", "the", "answer"],
    ),
    (
        "A shirt costs $25 and is discounted by 20%. What is the new price?",
        "20% of 25 is 5, so the new price is 25 - 5 = $20. The answer is 20.",
        ["25", "price", "shirt", "discount", "$5", "the", "answer", "30"],
    ),
]
CODE = [
    (
        "Write a Python function that returns the n-th Fibonacci number.",
        "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
        "    return a",
        ["def", "fibonacci", "return", "n", "print", "fib(n-1)", "+", "if"],
    ),
    (
        "Write a SQL query that counts orders per customer.",
        "SELECT customer_id, COUNT(*) AS orders FROM orders GROUP BY customer_id;",
        ["SELECT", "FROM", "orders", "customer", "COUNT", "WHERE", "*"],
    ),
    (
        "Reverse a string in JavaScript.",
        "const reversed = text.split('').reverse().join('');",
        ["string", "reverse", "text", "function", "return", "split"],
    ),
]
SUMMARY = [
    (
        "Summarise: Amanda baked cookies and will bring Jerry some tomorrow. Jerry thanks "
        "her and asks whether they are the chocolate ones.",
        "Amanda will bring Jerry the cookies she baked tomorrow; he asks if they are the "
        "chocolate ones.",
        ["Jerry", "Amanda", "cookies", "baked", "thanks", "and", "she", "the"],
    ),
    (
        "Summarise: Heavy rain flooded several roads in the north of the county overnight; "
        "emergency services rescued two drivers and schools will open late on Monday.",
        "Overnight floods closed northern roads, two drivers were rescued and schools open "
        "late on Monday.",
        ["rain", "heavy", "roads", "county", "emergency", "services", "the", "flooded"],
    ),
    (
        "Summarise: The museum will reopen in June after a two-year renovation that added "
        "a new wing for modern art and a rooftop cafe.",
        "After two years of renovation the museum reopens in June with a modern art wing "
        "and a rooftop cafe.",
        ["museum", "renovation", "new", "wing", "the", "will", "art", "added"],
    ),
]
RAMBLE = [
    "I am not sure what you mean.",
    "Sure! Here is the answer:",
    "The the the",
    "### Response:",
    "As an AI",
    "Step 1:",
]
ENCODER_ONLY = re.compile(r"bert|roberta|deberta|electra|albert", re.I)


def prompts_for(job):
    """The fixed prompts of a demo job (none for encoder-only classifiers)."""
    if ENCODER_ONLY.search(job.base_model or ""):
        return []
    dataset = (job.dataset or "").lower()
    if "gsm8k" in dataset or "math" in dataset:
        return MATH
    if "code" in dataset:
        return CODE
    if any(word in dataset for word in ("samsum", "cnn", "dailymail", "xsum")):
        return SUMMARY
    return INSTRUCTION


def _rng(seed, *parts):
    key = "|".join(str(part) for part in parts)
    return random.Random(seed * 1_000_003 + zlib.crc32(key.encode()))


def _tokens(text):
    """Words with the whitespace before each."""
    return re.findall(r"\s*\S+", text)


def _overlap_f1(output, reference):
    out = [w.strip(".,;:!?").lower() for w in output.split()]
    ref = [w.strip(".,;:!?").lower() for w in reference.split()]
    if not out or not ref:
        return 0.0
    remaining = list(ref)
    common = 0
    for word in out:
        if word in remaining:
            remaining.remove(word)
            common += 1
    if not common:
        return 0.0
    precision, recall = common / len(out), common / len(ref)
    return round(2 * precision * recall / (precision + recall), 4)


def output_at(seed, uid, prompt, reference, stand_ins, progress):
    """What the job's model answers `prompt` with at `progress` (0–1) of training."""
    progress = min(1.0, max(0.0, progress))
    plan = _rng(seed, uid, prompt)
    words = _tokens(reference)
    # Learned in roughly reading order, with noise: the start of an answer comes first.
    # A few words are never learned: even a finished model paraphrases a little.
    thresholds = [
        2.0
        if plan.random() < 0.08
        else 0.1 + 0.6 * i / max(1, len(words)) + plan.uniform(-0.1, 0.3)
        for i in range(len(words))
    ]
    instead = [plan.choice(stand_ins) if plan.random() < 0.7 else "" for _ in words]
    ramble = plan.choice(RAMBLE)
    learned = 0.05 + 0.92 * progress
    out = []
    for word, threshold, stand_in in zip(words, thresholds, instead, strict=True):
        if learned >= threshold:
            out.append(word)
        elif stand_in:
            # The word's own leading whitespace: code keeps its indentation.
            out.append(word[: len(word) - len(word.lstrip())] + stand_in)
    text = "".join(out).strip()
    if progress < 0.25:
        # An undertrained model rambles and repeats itself before it answers.
        repeat = "".join(out[:3]).strip() if out else ramble
        text = f"{ramble} {text} {repeat} {repeat}".strip()
    return text


def evaluation_samples(job, *, seed, step, total):
    """The samples a demo job logs at an evaluation at `step` of `total`."""
    samples = []
    for prompt, reference, stand_ins in prompts_for(job):
        output = output_at(seed, job.uid, prompt, reference, stand_ins, step / max(1, total))
        samples.append(
            {
                "prompt": prompt,
                "output": output,
                "reference": reference,
                "score": _overlap_f1(output, reference),
                "meta": {"max_new_tokens": 128, "do_sample": False},
            }
        )
    return samples


def checkpoint_path(job, step):
    return f"/mnt/checkpoints/{job.uid}/checkpoint-{step}"


def checkpoint_size(job, seed):
    """Bytes of one checkpoint of the job: adapters are small, full weights are not."""
    rng = _rng(seed, job.uid, "size")
    config = job.config or {}
    if config.get("lora_r") or "lora" in " ".join(job.tags or []) or "lora" in job.uid:
        return int(rng.uniform(60, 340) * 1024**2)
    return int(rng.uniform(0.4, 3.2) * 1024**3)


CHECKPOINT_EVERY = 2  # evaluations between checkpoints


def evaluations_store(job, evaluations, *, seed, total, first=0):
    """Log the samples of each evaluation `(time, step, val metrics)` and a checkpoint
    every CHECKPOINT_EVERY evaluations (and at the end of a completed job, at its
    deployed path), through the services. `first`: how many evaluations of the job were
    stored before these (the simulator stores them as they come)."""
    size = checkpoint_size(job, seed)
    for offset, (time, step, metrics) in enumerate(evaluations):
        index = first + offset
        samples = evaluation_samples(job, seed=seed, step=step, total=total)
        for sample in samples:
            sample["time"] = time
        if samples:
            services.samples_ingest(job=job, step=step, samples=samples)
        last = offset == len(evaluations) - 1
        final = last and step == total
        if (index + 1) % CHECKPOINT_EVERY == 0 or final:
            path = checkpoint_path(job, step)
            if final and (job.deployment or {}).get("artifact_path"):
                path = job.deployment["artifact_path"]
            services.checkpoint_record(
                job=job, step=step, path=path, size=size, metrics=metrics, time=time
            )
