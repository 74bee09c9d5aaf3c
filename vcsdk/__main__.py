from vcsdk._cli import main

raise SystemExit(main())
