from slamon.cli import main

raise SystemExit(main())
