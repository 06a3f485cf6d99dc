from lrm_lab.cli import main

raise SystemExit(main())
