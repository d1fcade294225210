"""`python -m common.deploy`: the deployment kit of a `.tflite` (common.deploy.kit)."""
from common.deploy.kit import main

if __name__ == "__main__":
    from common.cli import run

    run(main)
