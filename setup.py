from setuptools import find_packages, setup

setup(
    name="macaron_fairseq",
    version="0.1.0",
    description="Macaron Net (Lu et al. 2019) as a fairseq --user-dir plugin, and the tools to compare it",
    packages=find_packages(include=["macaron_fairseq", "macaron_fairseq.*", "macaron_tools", "macaron_tools.*"]),
    python_requires=">=3.9",
    install_requires=["fairseq", "torch", "sacrebleu", "sentencepiece", "sacremoses"],
)
