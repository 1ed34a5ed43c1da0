//! A corpus of invalid manifests. Each case asserts the exact diagnostic:
//! severity, line:column, field path, and the words of the message.

use ferry_model::{Severity, SourceFile, load};

const ENVIRONMENTS: &str = "\
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [dev]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: qa}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [qa]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: prod}
spec: {kind: PROD, clusters: [{name: prod-cluster}]}
";

struct Case {
    name: &'static str,
    yaml: &'static str,
    severity: Severity,
    at: &'static str,
    field: &'static str,
    message: &'static str,
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;
const N: Severity = Severity::Note;

const CASES: &[Case] = &[
    Case {
        name: "yaml syntax",
        yaml: "a: [1, 2\nb: 3\n",
        severity: E,
        at: "2:2",
        field: "",
        message: "YAML syntax error",
    },
    Case {
        name: "duplicate yaml key",
        yaml: "apiVersion: ferry.io/v1alpha1\nkind: Environment\nkind: Environment\n",
        severity: E,
        at: "3:1",
        field: "",
        message: "duplicate key `kind` (first defined at 2:1)",
    },
    Case {
        name: "document is a list",
        yaml: "- a\n- b\n",
        severity: E,
        at: "1:1",
        field: "",
        message: "expected a Kubernetes resource",
    },
    Case {
        name: "kind without apiVersion",
        yaml: "kind: Product\nmetadata: {name: x}\nspec: {}\n",
        severity: E,
        at: "1:1",
        field: "apiVersion",
        message: "`Product` needs an `apiVersion`",
    },
    Case {
        name: "unsupported apiVersion",
        yaml: "apiVersion: codefresh.io/v1alpha1\nkind: Product\nmetadata: {name: x}\nspec: {}\n",
        severity: E,
        at: "1:13",
        field: "apiVersion",
        message: "expected `codefresh.io/v1beta1`",
    },
    Case {
        name: "unknown kind",
        yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        severity: N,
        at: "1:1",
        field: "kind",
        message: "`ConfigMap` (v1) is not a kind ferry reads",
    },
    Case {
        name: "missing metadata.name",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata:\n  labels: {a: b}\nspec: {}\n",
        severity: E,
        at: "4:3",
        field: "metadata.name",
        message: "required field is missing",
    },
    Case {
        name: "missing spec",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata:\n  name: p\n",
        severity: E,
        at: "1:1",
        field: "spec",
        message: "required field is missing",
    },
    Case {
        name: "environment kind",
        yaml: "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec:\n  kind: PRODUCTION\n",
        severity: E,
        at: "5:9",
        field: "spec.kind",
        message: "unknown value `PRODUCTION`, expected one of `PROD` or `NON_PROD`",
    },
    Case {
        name: "environment clusters not a list",
        yaml: "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec:\n  kind: PROD\n  clusters: in-cluster\n",
        severity: E,
        at: "6:13",
        field: "spec.clusters",
        message: "expected a list, found a string `in-cluster`",
    },
    Case {
        name: "environment order not an integer",
        yaml: "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec:\n  kind: PROD\n  order: first\n",
        severity: E,
        at: "6:10",
        field: "spec.order",
        message: "expected an integer",
    },
    Case {
        name: "environment without clusters",
        yaml: "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec:\n  kind: PROD\n",
        severity: W,
        at: "5:3",
        field: "spec.clusters",
        message: "lists no clusters",
    },
    Case {
        name: "unknown field with suggestion",
        yaml: "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec:\n  kind: PROD\n  clusters: []\n  cluster: []\n",
        severity: W,
        at: "7:3",
        field: "spec.cluster",
        message: "did you mean `clusters`?",
    },
    Case {
        name: "cluster without name",
        yaml: "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {name: e}\nspec:\n  kind: PROD\n  clusters:\n    - namespaces: [a]\n",
        severity: E,
        at: "7:7",
        field: "spec.clusters[0].name",
        message: "required field is missing",
    },
    Case {
        name: "product template ref missing",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  promotionTemplateRef: nope\n",
        severity: E,
        at: "5:25",
        field: "spec.promotionTemplateRef",
        message: "PromotionTemplate `nope` does not exist",
    },
    Case {
        name: "product flow missing",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  promotionFlows:\n    - name: ghost\n",
        severity: E,
        at: "6:13",
        field: "spec.promotionFlows[0].name",
        message: "PromotionFlow `ghost` does not exist",
    },
    Case {
        name: "selector operator",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  promotionFlows:\n    - name: f\n      gitTriggerSelectors:\n        - {key: commitMessage, operator: Equals, values: [x]}\n",
        severity: E,
        at: "8:42",
        field: "spec.promotionFlows[0].gitTriggerSelectors[0].operator",
        message: "unknown value `Equals`, expected one of `In` or `NotIn`",
    },
    Case {
        name: "selector key",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  promotionFlows:\n    - name: f\n      gitTriggerSelectors:\n        - {key: branch, operator: In, values: [x]}\n",
        severity: E,
        at: "8:17",
        field: "spec.promotionFlows[0].gitTriggerSelectors[0].key",
        message: "expected one of `commitMessage` or `gitRevision`",
    },
    Case {
        name: "selector without values",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  promotionFlows:\n    - name: f\n      gitTriggerSelectors:\n        - {key: gitRevision, operator: In, values: []}\n",
        severity: E,
        at: "8:52",
        field: "spec.promotionFlows[0].gitTriggerSelectors[0].values",
        message: "at least one value is required",
    },
    Case {
        name: "concurrency policy",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  concurrency:\n    policy: parallel\n",
        severity: E,
        at: "6:13",
        field: "spec.concurrency.policy",
        message: "expected one of `queue`, `terminate` or `supersede`",
    },
    Case {
        name: "queue limit zero",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  concurrency:\n    queueLimit: 0\n",
        severity: E,
        at: "6:17",
        field: "spec.concurrency.queueLimit",
        message: "must be at least 1",
    },
    Case {
        name: "queue limit negative",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  concurrency:\n    queueLimit: -5\n",
        severity: E,
        at: "6:17",
        field: "spec.concurrency.queueLimit",
        message: "-5 is out of range for u32",
    },
    Case {
        name: "release notes tag pattern",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  releaseNotes:\n    sources:\n      - image: r/a\n        repoURL: https://g/a.git\n        tagPattern: latest\n",
        severity: E,
        at: "9:21",
        field: "spec.releaseNotes.sources[0].tagPattern",
        message: "must contain `{sha}` or `{version}`",
    },
    Case {
        name: "release notes issue pattern",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  releaseNotes:\n    issuePattern: '(PROJ-[0-9]+'\n",
        severity: E,
        at: "6:19",
        field: "spec.releaseNotes.issuePattern",
        message: "is not a regular expression",
    },
    Case {
        name: "release notes issue url template",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  releaseNotes:\n    issueUrlTemplate: https://jira/browse/\n",
        severity: E,
        at: "6:23",
        field: "spec.releaseNotes.issueUrlTemplate",
        message: "must contain `{key}`",
    },
    Case {
        name: "release notes first release limit",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  releaseNotes:\n    firstReleaseLimit: 0\n",
        severity: E,
        at: "6:24",
        field: "spec.releaseNotes.firstReleaseLimit",
        message: "must be at least 1",
    },
    Case {
        name: "release notes image with tag",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  releaseNotes:\n    sources:\n      - image: ghcr.io/acme/api:1.0\n        repoURL: https://g/a.git\n",
        severity: E,
        at: "7:16",
        field: "spec.releaseNotes.sources[0].image",
        message: "without tag or digest",
    },
    Case {
        name: "release notes image mapped twice",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  releaseNotes:\n    sources:\n      - image: r/a\n        repoURL: https://g/a.git\n      - image: r/a\n        repoURL: https://g/b.git\n",
        severity: W,
        at: "9:16",
        field: "spec.releaseNotes.sources[1].image",
        message: "mapped more than once",
    },
    Case {
        name: "template bad jsonpath",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {a: b}}\n  promotion:\n    values.yaml:\n      jsonPaths: ['$.image[']\n",
        severity: E,
        at: "8:19",
        field: "spec.promotion[\"values.yaml\"].jsonPaths[0]",
        message: "`$.image[` is not a valid JSONPath",
    },
    Case {
        name: "template version source incomplete",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  versionSource:\n    file: Chart.yaml\n",
        severity: E,
        at: "6:5",
        field: "spec.versionSource.jsonPath",
        message: "required field is missing",
    },
    Case {
        name: "template version jsonpath",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {a: b}}\n  versionSource: {file: Chart.yaml, jsonPath: appVersion}\n",
        severity: E,
        at: "6:47",
        field: "spec.versionSource.jsonPath",
        message: "`appVersion` is not a valid JSONPath",
    },
    Case {
        name: "template file leaves directory",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {a: b}}\n  promotion:\n    ../secrets.yaml: {jsonPaths: ['*']}\n",
        severity: E,
        at: "7:5",
        field: "spec.promotion[\"../secrets.yaml\"]",
        message: "leaves the application's directory",
    },
    Case {
        name: "template absolute file",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {a: b}}\n  versionSource: {file: /etc/passwd, jsonPath: $.x}\n",
        severity: E,
        at: "6:25",
        field: "spec.versionSource.file",
        message: "must be relative to the application's source path",
    },
    Case {
        name: "template star with paths",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {a: b}}\n  promotion:\n    values.yaml: {jsonPaths: ['*', '$.image']}\n",
        severity: E,
        at: "7:30",
        field: "spec.promotion[\"values.yaml\"].jsonPaths",
        message: "`*` promotes the whole file and cannot be combined",
    },
    Case {
        name: "template empty jsonPaths",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {a: b}}\n  promotion:\n    values.yaml: {jsonPaths: []}\n",
        severity: E,
        at: "7:30",
        field: "spec.promotion[\"values.yaml\"].jsonPaths",
        message: "must list at least one path",
    },
    Case {
        name: "selector In without values",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector:\n    matchExpressions:\n      - {key: tier, operator: In}\n",
        severity: E,
        at: "7:9",
        field: "spec.applicationSourceSelector.matchExpressions[0].values",
        message: "operator In needs at least one value",
    },
    Case {
        name: "selector operator kind",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector:\n    matchExpressions:\n      - {key: tier, operator: Has}\n",
        severity: E,
        at: "7:31",
        field: "spec.applicationSourceSelector.matchExpressions[0].operator",
        message: "expected one of `In`, `NotIn`, `Exists` or `DoesNotExist`",
    },
    Case {
        name: "policy action",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  policy:\n    action: merge\n",
        severity: E,
        at: "6:13",
        field: "spec.policy.action",
        message: "unknown value `merge`, expected one of `commit`, `pr` or `none`",
    },
    Case {
        name: "policy environment type",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  selector:\n    targetEnvironment:\n      types: [PRODUCTION]\n",
        severity: E,
        at: "7:15",
        field: "spec.selector.targetEnvironment.types[0]",
        message: "expected one of `PROD` or `NON_PROD`",
    },
    Case {
        name: "policy priority",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  priority: high\n",
        severity: E,
        at: "5:13",
        field: "spec.priority",
        message: "expected an integer, found a string `high`",
    },
    Case {
        name: "policy unknown workflow",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  policy:\n    preAction: smoke\n",
        severity: W,
        at: "6:16",
        field: "spec.policy.preAction",
        message: "preAction workflow `smoke` does not exist",
    },
    Case {
        name: "policy unknown environment",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  selector:\n    targetEnvironment: {names: [stagin]}\n",
        severity: W,
        at: "6:33",
        field: "spec.selector.targetEnvironment.names[0]",
        message: "environment `stagin` does not exist",
    },
    Case {
        name: "flow unknown trigger",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: development\n  steps: [{environment: qa}]\n",
        severity: E,
        at: "5:23",
        field: "spec.triggerEnvironment",
        message: "environment `development` does not exist",
    },
    Case {
        name: "flow unknown step environment",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: uat\n",
        severity: E,
        at: "7:20",
        field: "spec.steps[0].environment",
        message: "environment `uat` does not exist",
    },
    Case {
        name: "flow duplicate environment",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n    - environment: qa\n",
        severity: E,
        at: "8:20",
        field: "spec.steps[1].environment",
        message: "environment `qa` appears twice (first in steps[0])",
    },
    Case {
        name: "flow unknown dependency",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: [staging]\n",
        severity: E,
        at: "8:19",
        field: "spec.steps[0].dependsOn[0]",
        message: "`staging` is neither the trigger environment (`dev`) nor a step of this flow",
    },
    Case {
        name: "flow cycle",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: [prod]\n    - environment: prod\n      dependsOn: [qa]\n",
        severity: E,
        at: "10:18",
        field: "spec.steps[1].dependsOn",
        message: "dependency cycle: prod → qa → prod",
    },
    Case {
        name: "flow self dependency",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: [qa]\n",
        severity: E,
        at: "8:19",
        field: "spec.steps[0].dependsOn[0]",
        message: "`qa` depends on itself",
    },
    Case {
        name: "flow trigger as step",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: dev\n",
        severity: E,
        at: "7:20",
        field: "spec.steps[0].environment",
        message: "`dev` is the trigger environment",
    },
    Case {
        name: "flow timeout",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  timeout: 2d\n  steps: [{environment: qa}]\n",
        severity: E,
        at: "6:12",
        field: "spec.timeout",
        message: "unknown unit `d`",
    },
    Case {
        name: "flow mixed layouts",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  properties:\n    triggerEnvironment: dev\n",
        severity: E,
        at: "5:3",
        field: "spec.triggerEnvironment",
        message: "do not mix both layouts",
    },
    Case {
        name: "legacy flow missing trigger",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  properties:\n    steps: [{environment: qa}]\n",
        severity: E,
        at: "6:5",
        field: "spec.properties.triggerEnvironment",
        message: "required field is missing",
    },
    Case {
        name: "legacy flow unknown dependency",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  properties:\n    triggerEnvironment: dev\n    steps:\n      - environment: prod\n        dependsOn: [qa]\n",
        severity: E,
        at: "9:21",
        field: "spec.properties.steps[0].dependsOn[0]",
        message: "`qa` is neither the trigger environment",
    },
    Case {
        name: "flow dependsOn not a list",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: dev\n",
        severity: E,
        at: "8:18",
        field: "spec.steps[0].dependsOn",
        message: "expected a list, found a string `dev`",
    },
    Case {
        name: "flow unknown hook workflow",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps: [{environment: qa}]\n  hooks:\n    onFail: page-someone\n",
        severity: W,
        at: "8:13",
        field: "spec.hooks.onFail",
        message: "hook workflow `page-someone` does not exist",
    },
    Case {
        name: "application unknown environment label",
        yaml: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n  labels:\n    ferry.io/environment: uat\n  annotations: {codefresh.io/product: p}\nspec:\n  source: {repoURL: 'https://g/a.git', path: a}\n  destination: {name: in-cluster, namespace: dev}\n",
        severity: E,
        at: "6:27",
        field: "metadata.labels[\"ferry.io/environment\"]",
        message: "environment `uat` does not exist",
    },
    Case {
        name: "application chart source",
        yaml: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n  annotations: {codefresh.io/product: p}\nspec:\n  source: {repoURL: 'https://charts.example', chart: web, targetRevision: 1.2.3}\n  destination: {name: in-cluster, namespace: dev}\n",
        severity: E,
        at: "7:11",
        field: "spec.source.path",
        message: "has a Helm chart source (no path)",
    },
    Case {
        name: "application without destination",
        yaml: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source: {repoURL: 'https://g/a.git', path: a}\n",
        severity: E,
        at: "5:3",
        field: "spec.destination",
        message: "required field is missing",
    },
    Case {
        name: "application in no environment",
        yaml: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n  annotations: {codefresh.io/product: p}\nspec:\n  source: {repoURL: 'https://g/a.git', path: a}\n  destination: {name: in-cluster, namespace: sandbox}\n",
        severity: W,
        at: "8:16",
        field: "spec.destination",
        message: "destination in-cluster/sandbox matches no Environment",
    },
    Case {
        name: "application repoURL missing",
        yaml: "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  source: {path: a}\n  destination: {name: in-cluster}\n",
        severity: E,
        at: "5:11",
        field: "spec.source.repoURL",
        message: "required field is missing",
    },
    Case {
        name: "duplicate product",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec: {}\n---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec: {}\n",
        severity: E,
        at: "8:18",
        field: "metadata.name",
        message: "duplicate Product `p` (first defined at case.yaml:3:18)",
    },
    Case {
        name: "labels must be a mapping",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata:\n  name: p\n  labels: [a, b]\nspec: {}\n",
        severity: E,
        at: "5:11",
        field: "metadata.labels",
        message: "expected a mapping, found a list",
    },
    Case {
        name: "template bad jsonpath in a block list, second item, inline product template",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  promotionTemplate:\n    promotion:\n      values.yaml:\n        jsonPaths:\n          - $.image.tag\n          - \"$..[\"\n",
        severity: E,
        at: "10:13",
        field: "spec.promotionTemplate.promotion[\"values.yaml\"].jsonPaths[1]",
        message: "`$..[` is not a valid JSONPath",
    },
    Case {
        name: "policy targetEnvironment misspelt key is an error",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  selector:\n    targetEnvironment:\n      name: [qa]\n  policy: {action: pr}\n",
        severity: E,
        at: "7:7",
        field: "spec.selector.targetEnvironment.name",
        message: "unknown field `name` in a selector (expected `names`, `types` or `tags`); did you mean `names`?",
    },
    Case {
        name: "policy product selector unknown key",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  selector:\n    product: {labels: [team=a]}\n",
        severity: E,
        at: "6:15",
        field: "spec.selector.product.labels",
        message: "unknown field `labels` in a selector",
    },
    Case {
        name: "policy misspelt selector",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  selectors:\n    targetEnvironment: {names: [qa]}\n",
        severity: E,
        at: "5:3",
        field: "spec.selectors",
        message: "did you mean `selector`?",
    },
    Case {
        name: "policy selector unknown part",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  selector:\n    environment: {names: [qa]}\n",
        severity: E,
        at: "6:5",
        field: "spec.selector.environment",
        message: "unknown field `environment` in a selector",
    },
    Case {
        name: "template label selector misspelt",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector:\n    matchLabel: {app: a}\n",
        severity: E,
        at: "6:5",
        field: "spec.applicationSourceSelector.matchLabel",
        message: "did you mean `matchLabels`?",
    },
    Case {
        name: "template label selector expression unknown key",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector:\n    matchExpressions:\n      - {key: tier, operator: Exists, value: x}\n",
        severity: E,
        at: "7:39",
        field: "spec.applicationSourceSelector.matchExpressions[0].value",
        message: "unknown field `value` in a selector",
    },
    Case {
        name: "product flow misspelt selectors",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  promotionFlows:\n    - name: f\n      gitTriggerSelector:\n        - {key: gitRevision, operator: In, values: [main]}\n",
        severity: E,
        at: "7:7",
        field: "spec.promotionFlows[0].gitTriggerSelector",
        message: "did you mean `gitTriggerSelectors`?",
    },
    Case {
        name: "product trigger selector unknown key",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  promotionFlows:\n    - name: f\n      gitTriggerSelectors:\n        - {key: gitRevision, operator: In, values: [main], branch: x}\n",
        severity: E,
        at: "8:60",
        field: "spec.promotionFlows[0].gitTriggerSelectors[0].branch",
        message: "unknown field `branch` in a selector",
    },
    Case {
        name: "product concurrency string",
        yaml: "apiVersion: codefresh.io/v1beta2\nkind: Product\nmetadata: {name: p}\nspec:\n  concurrency: wait\n",
        severity: E,
        at: "5:16",
        field: "spec.concurrency",
        message: "unknown value `wait`, expected one of `queue`, `terminate` or `supersede`",
    },
    Case {
        name: "soak time not a duration",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  concurrency:\n    policy: supersede\n    minInterval:\n      qa: soon\n",
        severity: E,
        at: "6:5",
        field: "spec.concurrency",
        message: "minInterval.qa: `soon` is not a duration",
    },
    Case {
        name: "on failure unknown",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  policy: {onFailure: retry}\n",
        severity: E,
        at: "5:23",
        field: "spec.policy.onFailure",
        message: "unknown value `retry`, expected one of `stop` or `rollback`",
    },
    Case {
        name: "product concurrency list",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: p}\nspec:\n  concurrency: [queue]\n",
        severity: E,
        at: "5:16",
        field: "spec.concurrency",
        message: "expected a mapping, found a list",
    },
    Case {
        name: "product apiVersion",
        yaml: "apiVersion: codefresh.io/v1\nkind: Product\nmetadata: {name: p}\nspec: {}\n",
        severity: E,
        at: "1:13",
        field: "apiVersion",
        message: "expected `codefresh.io/v1beta1` or `codefresh.io/v1beta2`",
    },
    Case {
        name: "flow promotionTimeoutLimit zero",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps: [{environment: qa}]\n  promotionTimeoutLimit: 0\n",
        severity: E,
        at: "7:26",
        field: "spec.promotionTimeoutLimit",
        message: "must be a number of minutes from 1 to",
    },
    Case {
        name: "flow promotionTimeoutLimit not a number",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps: [{environment: qa}]\n  promotionTimeoutLimit: 5m\n",
        severity: E,
        at: "7:26",
        field: "spec.promotionTimeoutLimit",
        message: "expected an integer, found a string `5m`",
    },
    Case {
        name: "flow promotionTimeoutLimit disagrees with timeout",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  timeout: 1h\n  steps: [{environment: qa}]\n  promotionTimeoutLimit: 5\n",
        severity: E,
        at: "8:26",
        field: "spec.promotionTimeoutLimit",
        message: "5 minute(s) disagrees with `timeout: 1h`",
    },
    Case {
        name: "flow postTrigger refused",
        yaml: "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  properties:\n    triggerEnvironment: dev\n    postTrigger: smoke\n    steps: [{environment: qa}]\n",
        severity: E,
        at: "7:5",
        field: "spec.properties.postTrigger",
        message: "`postTrigger` is deprecated by Codefresh and not supported",
    },
];

#[test]
fn every_invalid_manifest_reports_its_problem_where_it_is() {
    assert!(CASES.len() >= 30, "the corpus must keep at least 30 cases");
    let mut failures = Vec::new();
    for case in CASES {
        let loaded = load(&[
            SourceFile {
                path: "environments.yaml".into(),
                text: ENVIRONMENTS.into(),
            },
            SourceFile {
                path: "case.yaml".into(),
                text: case.yaml.into(),
            },
        ]);
        let found = loaded.diagnostics.iter().any(|d| {
            d.file == "case.yaml"
                && d.severity == case.severity
                && format!("{}:{}", d.line, d.column) == case.at
                && d.field == case.field
                && d.message.contains(case.message)
        });
        if !found {
            let got: Vec<String> = loaded
                .diagnostics
                .iter()
                .map(|d| format!("    {d}"))
                .collect();
            failures.push(format!(
                "{}: expected `case.yaml:{}: {}: {}: …{}…`, got:\n{}",
                case.name,
                case.at,
                case.severity,
                case.field,
                case.message,
                got.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn environments_prelude_is_itself_valid() {
    let loaded = load(&[SourceFile {
        path: "environments.yaml".into(),
        text: ENVIRONMENTS.into(),
    }]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    assert_eq!(loaded.config.environments.len(), 3);
}

#[test]
fn all_errors_are_listed_not_only_the_first() {
    // Syntax errors stop the parser for their whole file, so they are left out here.
    let joinable = |c: &&Case| c.severity == E && !c.name.contains("yaml");
    let text = CASES
        .iter()
        .filter(joinable)
        .map(|c| c.yaml)
        .collect::<Vec<_>>()
        .join("---\n");
    let loaded = load(&[
        SourceFile {
            path: "environments.yaml".into(),
            text: ENVIRONMENTS.into(),
        },
        SourceFile {
            path: "all.yaml".into(),
            text,
        },
    ]);
    let errors = loaded.errors().count();
    let expected = CASES.iter().filter(joinable).count();
    assert!(
        errors >= expected,
        "expected at least {expected} errors, got {errors}"
    );
}
