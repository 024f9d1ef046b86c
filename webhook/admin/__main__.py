"""``python -m webhook.admin extract``: refresh the dashboard's catalogs from its pages, then
check them; without ``extract``, only check. Exits 1 when something is missing."""

import sys

from bot.i18n.admin import main

sys.exit(main(sys.argv[1:]))
