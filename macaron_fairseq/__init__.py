"""Macaron Net (Lu et al. 2019) for fairseq: ``fairseq-train --user-dir macaron_fairseq --arch macaron_transformer ...``.

The package is the plugin alone: the models and their architectures (:mod:`macaron_fairseq.models`), the layers
(:mod:`macaron_fairseq.modules`), and the plugin's fixes to fairseq (:mod:`macaron_fairseq.fairseq_fixes`), among
them safe checkpoint loading (:mod:`macaron_fairseq.checkpoint`). The tools that prepare data, run experiments and
write reports live apart, in ``macaron_tools``, and import it.

Importing the package changes nothing by itself, and imports neither fairseq nor torch. The plugin registers with
fairseq when fairseq loads it (``--user-dir``, ``fairseq.utils.import_user_module``), when it is imported after
fairseq (as any plugin registers with the toolkit that is already there), when one of its model classes is imported,
or when :func:`register` is called.
"""

import os
import sys


def register():
    """Registers the models with fairseq and applies the fixes to it (importing fairseq); idempotent.

    Inside one of fairseq's own commands (``fairseq-train ...``) the plugin's errors, and fairseq's refusals of a
    command line, are printed as one ``error:`` line as well; in any other process the exception hook is left alone.
    """
    # Python imports each module once, so each model registers once, whoever imports it first: this function, or
    # fairseq's --user-dir loader, which imports every module of models/ after this package. Importing models/
    # applies the fixes as well, so that a program importing a model class first gets them too.
    from macaron_fairseq import fairseq_fixes, models  # noqa: F401

    if running_a_fairseq_command():
        for fix in fairseq_fixes.COMMAND_FIXES:
            fix.apply()


def running_a_fairseq_command():
    """Whether this process is one of fairseq's console scripts (``fairseq-train``) or ``python -m fairseq_cli.*``."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return (getattr(main_spec, "name", "") or "").startswith("fairseq_cli.") or \
        os.path.basename(sys.argv[0] if sys.argv else "").startswith("fairseq-")


class PluginPath(list):
    """The package's ``__path__``, which registers the plugin when fairseq's loader asks for it.

    ``fairseq.utils.import_user_module`` imports a ``--user-dir`` package only when no module of its name is loaded;
    when one is, it asks whether the folder is in that module's ``__path__`` and does nothing more. So a program
    that imported this package before fairseq (which changes nothing, see above) and then loads checkpoints
    with ``user_dir=`` would find no Macaron model. fairseq asking that question is fairseq loading the plugin, and
    the plugin registers then.
    """

    def __contains__(self, folder):
        found = super().__contains__(folder)
        if found and "fairseq" in sys.modules:
            register()
        return found


__path__ = PluginPath(__path__)

if "fairseq" in sys.modules:
    register()
